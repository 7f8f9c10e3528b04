"""Evaluation: metrics, the paper's benchmark protocols, real-footage scoring, baselines and reports."""
