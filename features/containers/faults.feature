Feature: Faults through Docker on the way from the device to the database
  MariaDB's container is killed and started again on its volume, a device's power is cut by
  killing its Redis and service containers at once (and cutting the un-fsynced AOF tail in its
  bind-mounted data directory, as on processes), and a device's uplink container is taken off
  the backend network.

  Scenario: The MariaDB container is down for a while
    Given a system in containers with aedes and 2 simulated devices measuring every 0.05 seconds
    When every device has recorded 20 readings
    And the database is down for 10 seconds
    Then the receiver reported the database outage and recovered
    And every recorded reading is stored exactly once

  Scenario: A device in containers loses power
    Given a system in containers with aedes and 1 simulated device measuring every 0.02 seconds
    And the power of device "dev-1" can be cut
    When every device has recorded 250 readings
    And device "dev-1" loses power and boots again
    And every device has recorded 30 more readings
    Then only readings recorded in the last second before the power cut are lost
    And the backend sees that the boot of device "dev-1" ended without a clean shutdown

  Scenario: The Docker network between a device and the broker splits
    Given a system in containers with aedes and 2 simulated devices measuring every 0.05 seconds
    When every device has recorded 20 readings
    And device "dev-1" is cut off from the broker for 12 seconds
    And every device has recorded 20 more readings
    Then device "dev-1" noticed the partition and reconnected
    And every recorded reading is stored exactly once
