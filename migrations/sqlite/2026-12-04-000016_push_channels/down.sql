DROP TABLE push_leases;
DROP TABLE push_channels;
