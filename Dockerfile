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

# dependencies first: this layer is rebuilt only when requirements.txt changes
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

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
