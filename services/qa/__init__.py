"""Measured QA for candidates: colour guard, style similarity, composition drift, identity, technical checks."""

from services.qa.compare import compare_files
from services.qa.identity import IdentityUnavailable, face_encodings, identity_check, models_available
from services.qa.ranking import rank
from services.qa.report import QAReport, evaluate
from services.qa.style import StyleProfile, build_style_profile, style_similarity
from services.qa.thresholds import FAIL, PASS, UNVERIFIED, WARN, MetricResult, QAThresholds

__all__ = [
    'FAIL',
    'PASS',
    'UNVERIFIED',
    'WARN',
    'IdentityUnavailable',
    'MetricResult',
    'QAReport',
    'QAThresholds',
    'StyleProfile',
    'build_style_profile',
    'compare_files',
    'evaluate',
    'face_encodings',
    'identity_check',
    'models_available',
    'rank',
    'style_similarity',
]
