Feature: Controlling devices
  Operators start and stop measuring with the button on the device or remotely, and chips
  that fail come back without anyone restarting anything.

  Scenario: A bouncing button press stops measuring, the next press resumes it
    Given a system with aedes and 1 simulated device with a start/stop button, measuring every 0.1 seconds
    When every device has recorded 10 readings
    And the button of device "dev-1" is pressed with bouncing contacts
    Then device "dev-1" stops measuring
    When the button of device "dev-1" is pressed with bouncing contacts
    Then device "dev-1" measures again
    And every recorded reading is stored exactly once

  Scenario: A remote command changes the interval
    Given a system with aedes and 1 simulated device measuring every 1 seconds
    When every device has recorded 2 readings
    And an operator sets the measurement interval of device "dev-1" to 0.2 seconds
    Then device "dev-1" records readings about 0.2 seconds apart
    And every recorded reading is stored exactly once

  Scenario: A chip stops answering, then recovers
    Given a system with aedes and 1 simulated device measuring every 0.1 seconds
    When every device has recorded 10 readings
    And the BME280 of device "dev-1" stops answering
    And the BME280 of device "dev-1" answers again after 2 seconds
    Then device "dev-1" reported the chip error and the recovery
    And every recorded reading is stored exactly once
