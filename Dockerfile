# One image for every Tessera process (api, worker, webhook-worker, beat, migrate);
# docker-compose.yml picks the process with its `command`. Servers come from DATABASE_URL /
# REDIS_URL: the image holds no development server (no embedded PostgreSQL or Redis, no
# Swagger UI bundle) and no Flower unless built with `--build-arg EXTRAS=flower` (compose's
# flower service does). psycopg is built against the OS libpq (`psycopg[c]`).
FROM python:3.11-slim

ARG EXTRAS=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TESSERA_DATA_DIR=/data

WORKDIR /src
COPY pyproject.toml constraints.txt README.md celeryconfig.py ./
COPY api ./api
COPY models ./models
COPY tasks ./tasks
COPY workers ./workers
COPY tessera ./tessera
# The same pinned versions the tests ran with; the compiler and headers leave in the same layer.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 libpq-dev gcc libc6-dev \
    && pip install -c constraints.txt . "psycopg[c]" ${EXTRAS:+".[${EXTRAS}]"} \
    && apt-get purge -y --auto-remove libpq-dev gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/* /src

# Not root: nothing here needs it. /data holds beat's schedule and the API's metrics files.
RUN groupadd --system --gid 10001 tessera \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --create-home tessera
USER 10001:10001
WORKDIR /data

EXPOSE 8000 5555
# The API's readiness (PostgreSQL and Redis answer); compose gives the other processes theirs.
HEALTHCHECK --interval=10s --timeout=4s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/ready', timeout=3)"]
CMD ["tessera", "api", "--host", "0.0.0.0", "--port", "8000"]
