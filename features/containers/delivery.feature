Feature: Every recorded reading reaches the database exactly once, in containers
  The same system as the process scenarios, as docker-compose.sim.yml lays it out: the backend
  images (broker, receiver) and MariaDB on a backend network, one simulator container holding
  every device's chips, and per device its Redis, sensor and uplink containers on HARDWARE=remote.
  Faults go through Docker: a killed container is `docker kill`, a restart `docker start`.

  Scenario: Readings flow end to end in containers
    Given a system in containers with aedes and 2 simulated devices measuring every 0.05 seconds
    When every device has recorded 40 readings
    Then every recorded reading is stored exactly once

  Scenario: The broker container is killed and restarted
    Given a system in containers with aedes and 2 simulated devices measuring every 0.05 seconds
    When every device has recorded 30 readings
    And the broker is killed and restarted
    And every device has recorded 30 more readings
    Then every recorded reading is stored exactly once

  Scenario: The receiver container is killed in the middle of a batch
    Given a system in containers with aedes and 1 simulated device measuring every 0.01 seconds
    When every device has recorded 50 readings
    And the receiver is killed in the middle of a batch and restarted
    And every device has recorded 50 more readings
    Then every recorded reading is stored exactly once
