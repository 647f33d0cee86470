from nst.classroom.grading import main

main()
