# One image recipe for every service and the console (they share the workspace and its lock file):
#   docker build --build-arg SERVICE=notify -t connected-care/notify-service .
#   docker build --build-arg SERVICE=console --build-arg PACKAGE=console --build-arg MODULE=console -t connected-care/console .
FROM python:3.11-slim
ARG SERVICE
ARG PACKAGE=${SERVICE}-service
ARG MODULE=${SERVICE}_service
ENV UV_LINK_MODE=copy PYTHONUNBUFFERED=1 SERVICE_MODULE=${MODULE}
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY schemas ./schemas
COPY libs ./libs
COPY services ./services
RUN uv sync --frozen --no-dev --package ${PACKAGE}
USER nobody
CMD ["sh", "-c", "exec /app/.venv/bin/python -m $SERVICE_MODULE"]
