"""Looking after the stored data: backups, export and import, and retention."""
