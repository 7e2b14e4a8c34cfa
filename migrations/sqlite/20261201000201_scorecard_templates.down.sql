DROP TABLE scorecard_templates;
