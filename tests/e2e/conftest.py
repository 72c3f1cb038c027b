"""The end-to-end tests share one real local fleet (`glasscast up`): the `fleet`
fixture in tests/conftest.py, started once a session by whichever suite asks first."""
