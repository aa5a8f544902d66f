"""Evaluation: scoring on labelled sets (any annotation format), plots, reports, failure
analysis and debugging checks (spec sections 可视化监控, 结果评估与分析, 调试技巧)."""
