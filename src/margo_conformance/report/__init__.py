"""Reports: summary.json / summary.md, Allure helpers, console summary, offline HTML."""
