"""Logging configured once: console plus a rotating file under the data dir."""

from __future__ import annotations

import logging.config
from pathlib import Path


def configure_logging(data_dir: Path, level: str = 'INFO') -> None:
    logs = data_dir / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    logging.config.dictConfig(
        {
            'version': 1,
            'disable_existing_loggers': False,
            'formatters': {'plain': {'format': '%(asctime)s %(levelname)s %(name)s: %(message)s'}},
            'handlers': {
                'console': {'class': 'logging.StreamHandler', 'formatter': 'plain'},
                'file': {
                    'class': 'logging.handlers.RotatingFileHandler',
                    'formatter': 'plain',
                    'filename': str(logs / 'kroma.log'),
                    'maxBytes': 5_000_000,
                    'backupCount': 3,
                    'encoding': 'utf-8',
                },
            },
            'root': {'level': level.upper(), 'handlers': ['console', 'file']},
            'loggers': {
                'httpx': {'level': 'WARNING'},
                'apscheduler': {'level': 'WARNING'},
                'botocore': {'level': 'WARNING'},
            },
        }
    )
