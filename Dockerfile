# One image recipe for the three services (they share the workspace and its lock file):
#   docker build --build-arg SERVICE=notify -t connected-care/notify-service .
FROM python:3.11-slim
ARG SERVICE
ENV UV_LINK_MODE=copy PYTHONUNBUFFERED=1 SERVICE_MODULE=${SERVICE}_service
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY schemas ./schemas
COPY libs ./libs
COPY services ./services
RUN uv sync --frozen --no-dev --package ${SERVICE}-service
USER nobody
CMD ["sh", "-c", "exec /app/.venv/bin/python -m $SERVICE_MODULE"]
