"""Post-process (J07, U01): cut-out, upscale, colour profile, the fixed-order chain, and post-process runs on a project.

Used by pages/postprocess.py, kroma postprocess, the utility lab and the copilot's post-process instruction.
"""
