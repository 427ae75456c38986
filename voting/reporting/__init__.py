"""Results and downloads: votes gathered into figures, charts, CSV, JSON and the workbook, and
the results and report pages."""
