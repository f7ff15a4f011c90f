# One image for every Tessera process (api, worker, beat, flower, migrate); docker-compose.yml
# picks the process with its `command`. Servers come from DATABASE_URL / REDIS_URL: the image
# never starts the embedded PostgreSQL or Redis.
FROM python:3.11-slim

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
# The same pinned versions the tests ran with.
RUN pip install -c constraints.txt . && rm -rf /src

# Not root: nothing here needs it. /data holds beat's schedule and the API's metrics files.
RUN useradd --system --uid 10001 --home-dir /data --create-home tessera
USER tessera
WORKDIR /data

EXPOSE 8000 5555
CMD ["tessera", "api", "--host", "0.0.0.0", "--port", "8000"]
