"""`python -m notify_service.dispatcher`: delivery only (claims, sends, records), as its own process; run as many
as wanted beside the API (`NOTIFY_ROLE=api`): each takes a fair share of the delivery partitions."""

from carekit.serve import serve
from carekit.settings import load_settings
from notify_service.app import create_app
from notify_service.config import Settings


def main() -> None:
    settings = load_settings(Settings).model_copy(update={"notify_role": "dispatcher"})
    serve(create_app(settings), settings, "notify-dispatcher")


if __name__ == "__main__":
    main()
