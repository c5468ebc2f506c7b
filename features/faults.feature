Feature: Faults on the way from the device to the database
  Databases go down, Redis crashes, power fails and networks split. Only a real power cut may
  lose readings, and then only what Redis had not yet written to disk, visibly.

  Scenario: MariaDB is down for a while
    Given a system with aedes and 2 simulated devices measuring every 0.05 seconds
    When every device has recorded 20 readings
    And the database is down for 10 seconds
    Then the receiver reported the database outage and recovered
    And every recorded reading is stored exactly once

  Scenario: The Redis of a device is killed
    Given a system with aedes and 1 simulated device measuring every 0.05 seconds
    When every device has recorded 20 readings
    And the Redis of device "dev-1" is killed and restarted
    And every device has recorded 20 more readings
    Then every recorded reading is stored exactly once

  Scenario: A device loses power
    Given a system with aedes and 1 simulated device measuring every 0.02 seconds
    And the power of device "dev-1" can be cut
    When every device has recorded 250 readings
    And device "dev-1" loses power and boots again
    And every device has recorded 30 more readings
    Then only readings recorded in the last second before the power cut are lost
    And the backend sees that the boot of device "dev-1" ended without a clean shutdown

  Scenario: The network between a device and the broker splits
    Given a system with aedes and 2 simulated devices measuring every 0.05 seconds
    When every device has recorded 20 readings
    And device "dev-1" is cut off from the broker for 12 seconds
    And every device has recorded 20 more readings
    Then device "dev-1" noticed the partition and reconnected
    And every recorded reading is stored exactly once

  Scenario: A slow network link
    Given a system with aedes and 1 simulated device measuring every 0.05 seconds
    When the network of device "dev-1" has 200 ms of latency
    And every device has recorded 40 readings
    Then every recorded reading is stored exactly once
