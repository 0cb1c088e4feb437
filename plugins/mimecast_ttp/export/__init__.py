"""Alerts out of the store in standard forms: OCSF Detection Findings and a partitioned Parquet export.

``ocsf`` maps one alert to an OCSF 1.5.0 Detection Finding (plain Python, no Airflow);
``reading`` reads the alerts of a period from the store; ``layout`` names the partitions
(``event_date=YYYY-MM-DD/endpoint=E/part-HH.<ext>``, one file per endpoint and UTC hour of event
time); ``writer`` writes them, replacing each file whole, so re-exporting a period never
duplicates. The ``mimecast-ttp export`` command and the ``mimecast_ttp_export`` DAG use
:func:`~mimecast_ttp.export.writer.export_hours`.

Modules are imported on use: pyarrow only by a Parquet export, jsonschema only by validation.
"""
