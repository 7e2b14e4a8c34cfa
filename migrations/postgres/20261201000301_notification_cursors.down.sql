DROP TABLE notification_cursors;
