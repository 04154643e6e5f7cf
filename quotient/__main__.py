from quotient.cli import main

main()
