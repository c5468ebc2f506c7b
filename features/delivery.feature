Feature: Every recorded reading reaches the database exactly once
  A reading is recorded when the device's Redis acknowledged it. Whatever fails between the
  device and the database, the checker compares what each device recorded with what the
  database holds: nothing lost, nothing stored twice, nothing changed.

  Scenario Outline: Readings flow end to end through <broker>
    Given a system with <broker> and 2 simulated devices measuring every 0.05 seconds
    When every device has recorded 40 readings
    Then every recorded reading is stored exactly once

    Examples:
      | broker    |
      | aedes     |
      | Mosquitto |

  Scenario Outline: The <broker> broker is killed and restarted
    Given a system with <broker> and 2 simulated devices measuring every 0.05 seconds
    When every device has recorded 30 readings
    And the broker is killed and restarted
    And every device has recorded 30 more readings
    Then every recorded reading is stored exactly once

    Examples:
      | broker    |
      | aedes     |
      | Mosquitto |

  Scenario: The broker is killed again and again
    Given a system with aedes and 2 simulated devices measuring every 0.05 seconds
    When every device has recorded 20 readings
    And the broker is killed and restarted 3 times
    Then every recorded reading is stored exactly once

  Scenario: The broker freezes and thaws
    Given a system with aedes and 2 simulated devices measuring every 0.05 seconds
    When every device has recorded 20 readings
    And the broker freezes for 8 seconds
    And every device has recorded 20 more readings
    Then every recorded reading is stored exactly once

  Scenario: The receiver is killed in the middle of a batch
    Given a system with aedes and 1 simulated device measuring every 0.01 seconds
    When every device has recorded 50 readings
    And the receiver is killed in the middle of a batch and restarted
    And every device has recorded 50 more readings
    Then every recorded reading is stored exactly once

  Scenario: Two receivers share the load
    Given a system with Mosquitto, 2 receivers sharing one subscription and 3 simulated devices measuring every 0.02 seconds
    When every device has recorded 100 readings
    Then every recorded reading is stored exactly once
    And both receivers stored part of the readings

  Scenario: Several batches in flight while the broker and a receiver are killed
    Given a system with Mosquitto, 2 receivers sharing one subscription and 2 simulated devices measuring every 0.01 seconds, sending up to 8 batches of 10 readings at once
    When every device has recorded 100 readings
    And the broker is killed and restarted
    And every device has recorded 100 more readings
    And the receiver is killed in the middle of a batch and restarted
    And every device has recorded 100 more readings
    Then every recorded reading is stored exactly once
    And every device had more than one batch in flight at a time
