"""SageMaker-compatible model server: routes in :mod:`app`, parsing/encoding in :mod:`codec`."""
