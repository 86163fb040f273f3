"""SRE Workbook: notebooks and a library for health, metrics, backups, alerts and incidents."""

__version__ = "0.1.0"
