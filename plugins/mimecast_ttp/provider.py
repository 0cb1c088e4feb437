"""The package as an Airflow provider: the ``mimecast`` connection type, with its own form and test.

Registered through the ``apache_airflow_provider`` entry point (``pyproject.toml``), so the
providers manager of every Airflow process (``airflow providers list``, the API server's
connection form, ``airflow connections test``) knows the ``mimecast`` connection type and its hook,
:class:`~mimecast_ttp.hooks.mimecast.MimecastHook`. The form is data here, as providers declare it
in their ``provider.yaml``: login and password relabelled per API version, irrelevant fields
hidden, the extras as typed fields, the application key a secret field (masked in the UI).
"""

from __future__ import annotations

from mimecast_ttp import __version__

CONNECTION_TYPE = "mimecast"


def get_provider_info() -> dict:
    return {
        "package-name": "mimecast-ttp-alerts",
        "name": "Mimecast TTP alerts",
        "description": "Mimecast Targeted Threat Protection logs (API 2.0 and 1.0) to MITRE-mapped alerts.",
        "versions": [__version__],
        "hooks": [{"integration-name": "Mimecast", "python-modules": ["mimecast_ttp.hooks.mimecast"]}],
        "connection-types": [{
            "hook-class-name": "mimecast_ttp.hooks.mimecast.MimecastHook",
            "hook-name": "Mimecast",
            "connection-type": CONNECTION_TYPE,
            "ui-field-behaviour": {
                "hidden-fields": ["schema", "port", "extra"],
                "relabeling": {"host": "API host", "login": "Client ID (API 2.0) / Access key (API 1.0)",
                               "password": "Client secret (API 2.0) / Secret key (API 1.0)"},
                "placeholders": {"host": "api.services.mimecast.com (2.0), eu-api.mimecast.com (1.0), or a base URL",
                                 "login": "the API 2.0 client id, or the API 1.0 access key",
                                 "password": "the API 2.0 client secret, or the API 1.0 secret key (base64)"},
            },
            "conn-fields": {
                "api_version": {"label": "API version",
                                "description": "2: OAuth client credentials (default). 1: legacy HMAC-signed keys.",
                                "schema": {"type": ["string", "null"], "enum": ["2", "1"], "default": "2"}},
                "app_id": {"label": "Application ID (API 1.0 only)", "schema": {"type": ["string", "null"]}},
                "app_key": {"label": "Application key (API 1.0 only)",
                            "schema": {"type": ["string", "null"], "format": "password"}},
                "page_size": {"label": "Records per page", "description": "1 to 1000; default 500.",
                              "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 1000}},
                "timeout": {"label": "Request timeout (seconds)", "description": "Default 60.",
                            "schema": {"type": ["number", "null"], "exclusiveMinimum": 0}},
                "verify": {"label": "TLS verification",
                           "description": "true (default), false, or the absolute path of a CA bundle.",
                           "schema": {"type": ["string", "null"]}},
            },
        }],
    }
