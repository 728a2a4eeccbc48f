"""Statistics of the integration system: facts folded from the case history, figures per period,
suppression of small cells, the open-data release and the dashboard."""
