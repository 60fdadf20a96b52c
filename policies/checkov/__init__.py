"""The project's own checkov policies (loaded with --external-checks-dir policies/checkov).

checkov imports every ``.py`` file here as a top-level module named after the file, so
file names carry the ``jp_`` prefix to never shadow a standard library or checkov module.
"""
