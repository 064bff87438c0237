"""The study table: published FT-vs-VPT results, one tidy row per (task, n_train, backbone, evidence).

Import from ``vptadvisor.study.table`` (``load_table``, ``StudyRow``, ``integrity_problems``);
rebuild at development time with ``python tools/build_study_table.py --from ../shared/study``.
"""
