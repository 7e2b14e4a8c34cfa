DROP TABLE score_issues;
--bun:split
DROP TABLE scorecards;
