"""SQLModel tables and read/create/update models; importing this registers every table."""

from models.assets import Asset, AssetLink, QualityReport, Review
from models.continuity import CharacterVersion, ContinuityEvent
from models.layout import Chapter, Export, Page, Panel
from models.ops import ApiToken, AuditEvent, Backup, ChatMessage, ChatSession, Instruction, InstructionEvent
from models.project import Project
from models.provider import ProviderAccount, Secret
from models.references import (
    Character,
    CharacterReference,
    PromptTemplate,
    ReferenceSet,
    ReferenceSetItem,
    Scene,
    StyleGuide,
)
from models.runs import Candidate, CostEvent, Job, Run
from models.slots import ProviderSlot

__all__ = [
    'ApiToken',
    'Asset',
    'AssetLink',
    'AuditEvent',
    'Backup',
    'Candidate',
    'Chapter',
    'Character',
    'CharacterReference',
    'CharacterVersion',
    'ChatMessage',
    'ChatSession',
    'ContinuityEvent',
    'CostEvent',
    'Export',
    'Instruction',
    'InstructionEvent',
    'Job',
    'Page',
    'Panel',
    'Project',
    'PromptTemplate',
    'ProviderAccount',
    'ProviderSlot',
    'QualityReport',
    'ReferenceSet',
    'ReferenceSetItem',
    'Review',
    'Run',
    'Scene',
    'Secret',
    'StyleGuide',
]
