"""Gymnasium layer: actions, observations, prompts, the knowledge solver and the exploration env."""
