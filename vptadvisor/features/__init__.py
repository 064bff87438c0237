"""Features: the FID Inception network (weights resolved offline) and batched, cached extraction."""

# Here rather than in extract.py so that the CLI's option defaults import no numpy or PIL.
# Images decoded and embedded at most (a seeded, class-stratified sample beyond it): the rule sees
# the FID on the 1,000-image scale, the mean over 3 random 1,000-image subsets (distance/size.py),
# so 5,000 leaves those subsets nearly independent, and a 40,000-image dataset costs at most 1.25x
# a 4,000-image one (docs/analyze.md, "Large datasets").
DEFAULT_MAX_IMAGES = 5000
DEFAULT_BATCH_SIZE = 16  # on CPU as fast per image as 32 (13-15 img/s here), with less memory
