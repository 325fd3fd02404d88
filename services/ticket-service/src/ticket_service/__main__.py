"""`python -m ticket_service`: run the service from environment settings."""

from carekit.serve import serve
from carekit.settings import load_settings
from ticket_service.app import create_app
from ticket_service.config import Settings


def main() -> None:
    settings = load_settings(Settings)
    serve(create_app(settings), settings, "ticket-service")


if __name__ == "__main__":
    main()
