DROP TABLE sync_issues;
