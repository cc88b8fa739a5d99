-- The schema registry's own database in the compose stack (the no-Docker stack stores it in H2).
CREATE DATABASE registry OWNER parley;
