# The Mimecast TTP alerts image: the official Airflow image plus the pinned requirements and this
# package, so nothing is installed when a container starts (no _PIP_ADDITIONAL_REQUIREMENTS).
# Build: docker compose build   (or: docker build -t mimecast-ttp-alerts .)
FROM apache/airflow:3.3.2-python3.11

USER airflow

# The whole resolved dependency set. apache-airflow is named with the image's own version so pip
# keeps the Airflow that the image was built with, whatever else the lock moves.
COPY --chown=airflow:0 requirements.lock /opt/airflow/requirements.lock
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/airflow/requirements.lock

# The package is installed in editable mode from /opt/airflow/plugins: one copy of the code (the
# one Airflow also puts on sys.path, so a bind-mounted ./plugins is what runs), the
# `mimecast-ttp` command on PATH, and include/ found beside plugins/.
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 scripts/ /opt/airflow/scripts/
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e /opt/airflow \
    && install -d -m 0775 /opt/airflow/data /opt/airflow/auth

ENV MIMECAST_TTP_INCLUDE_DIR=/opt/airflow/include \
    MIMECAST_TTP_DATA_DIR=/opt/airflow/data/mimecast_ttp
