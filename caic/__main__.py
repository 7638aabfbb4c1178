from caic.cli import main

main()
