"""Nemeses: fault shapes (grudges), seeded fault schedules, and the runner that injects them."""
