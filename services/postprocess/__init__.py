"""Post-process image operations as a pure library: cut-out, upscale, colour profile and the fixed-order chain."""

from services.postprocess.background import rembg_available, remove_background, remove_background_rembg
from services.postprocess.chain import ChainStep, StepResult, parse_steps, run_chain, to_png_bytes
from services.postprocess.colour import ColourProfile, apply_profile, builtin_profiles, profile_from_dict
from services.postprocess.remote_background import remove_background_remote
from services.postprocess.upscale import acnet_available, upscale

__all__ = [
    'ChainStep',
    'ColourProfile',
    'StepResult',
    'acnet_available',
    'apply_profile',
    'builtin_profiles',
    'parse_steps',
    'profile_from_dict',
    'rembg_available',
    'remove_background',
    'remove_background_rembg',
    'remove_background_remote',
    'run_chain',
    'to_png_bytes',
    'upscale',
]
