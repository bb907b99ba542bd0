"""The ``openproject-async`` command line (entry point: :func:`openproject_async.cli.main`).

Modules: ``_common`` (configuration, error lines, hrefs), ``_filters`` (the ``--filter`` /
``--sort`` / ``--select`` mini-languages), ``_browse`` (``get`` / ``follow``), ``_export``,
``_progress`` and ``_demo`` (the usage guide, step by step).
"""
