Feature: Bad and unauthorised messages
  Whatever a client sends, the services keep running and valid traffic goes on; the broker
  keeps devices to their own topics.

  Scenario: Malformed readings are recorded as rejected, and valid traffic continues
    Given a system with aedes, 2 simulated devices measuring every 0.05 seconds and device "rogue" provisioned but not running
    When a client with the credentials of device "rogue" publishes malformed readings
    Then each malformed message is recorded as rejected with its reason
    When every device has recorded 20 more readings
    Then every recorded reading is stored exactly once

  Scenario: A device may not publish or subscribe as another device
    Given a system with aedes, 2 simulated devices measuring every 0.05 seconds and device "rogue" provisioned but not running
    When device "rogue" tries to publish readings as device "dev-2" and to read its commands
    Then the broker refused both, and nothing reached the backend
    When every device has recorded 20 more readings
    Then every recorded reading is stored exactly once
