"""The study table: published FT-vs-VPT results, one tidy row per (task, n_train, backbone).

Import from ``vptadvisor.study.table`` (``load_table``, ``StudyRow``, ``integrity_problems``);
rebuild at development time with ``python -m vptadvisor.study.table --from ../shared/study``.
"""
