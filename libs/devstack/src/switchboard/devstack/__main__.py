from switchboard.devstack.cli import main

main()
