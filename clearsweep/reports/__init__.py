"""Reports for people: the impact report (one self-contained HTML file per county and for a run's
total), built only from the figures a run recorded."""
