"""`python -m notify_service`: run the service from environment settings."""

from carekit.serve import serve
from carekit.settings import load_settings
from notify_service.app import create_app
from notify_service.config import Settings


def main() -> None:
    settings = load_settings(Settings)
    serve(create_app(settings), settings, "notify-service")


if __name__ == "__main__":
    main()
