"""`python -m console`: run the console from environment settings."""

from carekit.serve import serve
from carekit.settings import load_settings
from console.app import create_app
from console.config import Settings


def main() -> None:
    settings = load_settings(Settings)
    serve(create_app(settings), settings, "console")


if __name__ == "__main__":
    main()
