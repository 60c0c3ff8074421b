FROM python:3.11-slim-bookworm

# One image for every service: the refresh service, the loader, dbt (run, test, build, docs) and
# the storage service (Datasette and the dashboard).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WAREHOUSE_DB=/data/warehouse.db \
    DBT_SQLITE_SCHEMA_DIR=/data/dbt_schemas \
    DBT_PROJECT_DIR=/app \
    DBT_PROFILES_DIR=/app \
    DBT_TARGET_PATH=/home/app/dbt/target \
    DBT_LOG_PATH=/home/app/dbt/logs \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    MPLCONFIGDIR=/home/app/.matplotlib

WORKDIR /app

# dependencies first: this layer is rebuilt only when the requirements change. ENGINE=duckdb or
# ENGINE=spark (build argument) adds that engine for the same dbt models (docs/scaling.md): the
# images of the compose profiles duckdb and spark; Spark also needs Debian's headless Java 17.
ARG ENGINE=
COPY requirements*.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
    && if [ -n "$ENGINE" ]; then pip install --no-cache-dir -r "requirements-$ENGINE.txt"; fi \
    && if [ "$ENGINE" = spark ]; then apt-get update -q \
         && apt-get install -y -q --no-install-recommends openjdk-17-jre-headless \
         && rm -rf /var/lib/apt/lists/*; fi

RUN useradd --create-home --uid 10001 app \
    && mkdir -p /data \
    && chown app:app /data

COPY dbt_project.yml profiles.yml pyproject.toml ./
COPY loader/ loader/
COPY report/ report/
COPY pipeline/ pipeline/
COPY datasette_plugins/ datasette_plugins/
COPY datasette_site/ datasette_site/
COPY dbt_project/ dbt_project/

USER app
VOLUME ["/data"]
CMD ["python", "-m", "loader", "--help"]
