"""Machine translation fixtures: the tiny argos models come from tests.translation.fixtures (a
plugin of tests/conftest.py); the LibreTranslate server on 127.0.0.1 is only used here."""

from tests.translation.fake_libretranslate import libretranslate  # noqa: F401
