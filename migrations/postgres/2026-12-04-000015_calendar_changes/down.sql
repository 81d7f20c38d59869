DROP TABLE calendar_change_cursors;
