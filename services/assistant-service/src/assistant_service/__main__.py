"""`python -m assistant_service`: run the service from environment settings."""

from assistant_service.app import create_app
from assistant_service.config import Settings
from carekit.serve import serve
from carekit.settings import load_settings


def main() -> None:
    settings = load_settings(Settings)
    serve(create_app(settings), settings, "assistant-service")


if __name__ == "__main__":
    main()
