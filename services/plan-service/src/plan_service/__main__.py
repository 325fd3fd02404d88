"""`python -m plan_service`: run the service from environment settings."""

from carekit.serve import serve
from carekit.settings import load_settings
from plan_service.app import create_app
from plan_service.config import Settings


def main() -> None:
    settings = load_settings(Settings)
    serve(create_app(settings), settings, "plan-service")


if __name__ == "__main__":
    main()
